import { useAuthActions } from "@convex-dev/auth/react";
import { useEffect, useId, useState, type FormEvent } from "react";
import { useBackendDown } from "../lib/connection";
import { describeError, errorMessage } from "../lib/errors";
import { useConfig } from "../lib/context";

type Mode = "signIn" | "signUp";

function signInErrorMessage(e: unknown, mode: Mode): string {
  // keyhole's sign-in answers an unknown account and a wrong password alike.
  const { code, message } = describeError(e);
  if (code === "unauthenticated") return "Email or password is incorrect.";
  if (code === "rate_limited")
    return `Too many failed sign-ins from here: ${message.replace(/^too many failed sign-ins from this address: /, "")}.`;
  const raw = e instanceof Error ? e.message : String(e);
  if (/already exists/i.test(raw)) return "An account with this email already exists. Sign in instead.";
  if (/Invalid password/.test(raw)) return "Choose a password of at least 8 characters.";
  if (/Invalid credentials|InvalidSecret|InvalidAccountId/.test(raw)) return "Email or password is incorrect.";
  if (/TooManyFailedAttempts|rate/i.test(raw)) return "Too many attempts. Wait a minute and try again.";
  if (/Failed to fetch|NetworkError|fetch failed/i.test(raw)) return "Can't reach the keyhole backend. Is it running?";
  if (/Server Error/.test(raw) && !/Uncaught/.test(raw)) {
    return mode === "signIn" ? "Couldn't sign in. Check your email and password." : "Couldn't create the account.";
  }
  return errorMessage(e);
}

/** The sign-in form's state: fields, validation, and a submit that reports the backend being down. */
function useAuthForm(mode: Mode) {
  const { signIn } = useAuthActions();
  const config = useConfig();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [touched, setTouched] = useState(false);

  // Signing in needs the backend: say so instead of spinning on "Signing in…".
  const down = useBackendDown();
  const unreachable = `Can't reach the keyhole backend at ${config.convexUrl}. Check that it is running, then try again.`;
  useEffect(() => {
    if (down && pending) {
      setPending(false);
      setError(unreachable);
    }
  }, [down, pending, unreachable]);

  const emailInvalid = !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim());
  const passwordInvalid = mode === "signUp" ? password.length < 8 : password.length === 0;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setTouched(true);
    if (emailInvalid || passwordInvalid) return;
    if (down) {
      setError(unreachable);
      return;
    }
    setPending(true);
    setError(null);
    try {
      await signIn("password", { email: email.trim(), password, flow: mode });
    } catch (err) {
      setError(signInErrorMessage(err, mode));
      setPending(false);
    }
  }

  return {
    email,
    setEmail,
    password,
    setPassword,
    pending,
    error,
    setError,
    touched,
    setTouched,
    emailInvalid,
    passwordInvalid,
    submit,
  };
}

/** "or / Sign in with GitHub", shown when the deployment offers GitHub sign-in. */
function GithubSignIn({ pending, setError }: { pending: boolean; setError: (e: string | null) => void }) {
  const { signIn } = useAuthActions();
  return (
    <>
      <p className="divider">
        <span>or</span>
      </p>
      <button
        type="button"
        className="btn btn-block"
        disabled={pending}
        onClick={async () => {
          setError(null);
          try {
            // Comes back to SITE_URL with a one-time code ConvexAuthProvider redeems.
            await signIn("github");
          } catch (err) {
            setError(signInErrorMessage(err, "signIn"));
          }
        }}
      >
        Sign in with GitHub
      </button>
    </>
  );
}

/** The email field, with an error once the form was submitted. */
function EmailField(props: { mode: Mode; email: string; setEmail: (e: string) => void; invalid: boolean }) {
  const { mode, email, setEmail, invalid } = props;
  const emailId = useId();
  return (
    <div className="field">
      <label htmlFor={emailId}>Email</label>
      <input
        id={emailId}
        type="email"
        name="email"
        autoComplete={mode === "signIn" ? "username" : "email"}
        value={email}
        onChange={(e) => setEmail(e.target.value)}
        aria-invalid={invalid}
        required
        autoFocus
      />
      {invalid ? <p className="field-error">Enter an email address like name@example.com.</p> : null}
    </div>
  );
}

/** The password field: a hint when signing up, an error once the form was submitted. */
function PasswordField(props: { mode: Mode; password: string; setPassword: (p: string) => void; invalid: boolean }) {
  const { mode, password, setPassword, invalid } = props;
  const passwordId = useId();
  const hintId = useId();
  return (
    <div className="field">
      <label htmlFor={passwordId}>Password</label>
      <input
        id={passwordId}
        type="password"
        name="password"
        autoComplete={mode === "signIn" ? "current-password" : "new-password"}
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        aria-invalid={invalid}
        aria-describedby={mode === "signUp" ? hintId : undefined}
        required
      />
      {mode === "signUp" ? (
        <p id={hintId} className="field-hint">
          At least 8 characters.
        </p>
      ) : null}
      {invalid ? (
        <p className="field-error">{mode === "signUp" ? "Use at least 8 characters." : "Enter your password."}</p>
      ) : null}
    </div>
  );
}

export function AuthScreen({ notice }: { notice: string | null }) {
  const config = useConfig();
  const [mode, setMode] = useState<Mode>("signIn");
  const { pending, error, setError, setTouched, submit, ...form } = useAuthForm(mode);
  const errorId = useId();

  const title = mode === "signIn" ? "Sign in to keyhole" : "Create your keyhole account";
  return (
    <main className="auth" id="main" tabIndex={-1}>
      <div className="auth-card">
        <p className="brand brand-lg" aria-hidden="true">
          <span className="brand-mark" /> keyhole
        </p>
        <h1>{title}</h1>
        <p className="muted">Tokens, agent sessions and connections for your Convex apps.</p>
        {notice ? (
          <p className="notice notice-info" role="status">
            {notice}
          </p>
        ) : null}
        <form onSubmit={submit} noValidate aria-describedby={error ? errorId : undefined}>
          <EmailField
            mode={mode}
            email={form.email}
            setEmail={form.setEmail}
            invalid={form.touched && form.emailInvalid}
          />
          <PasswordField
            mode={mode}
            password={form.password}
            setPassword={form.setPassword}
            invalid={form.touched && form.passwordInvalid}
          />
          {error ? (
            <p id={errorId} className="form-error" role="alert">
              {error}
            </p>
          ) : null}
          <button type="submit" className="btn btn-primary btn-block" disabled={pending}>
            {pending
              ? mode === "signIn"
                ? "Signing in…"
                : "Creating account…"
              : mode === "signIn"
                ? "Sign in"
                : "Create account"}
          </button>
        </form>
        {config.githubSignIn ? <GithubSignIn pending={pending} setError={setError} /> : null}
        <p className="auth-switch">
          {mode === "signIn" ? "New to keyhole?" : "Already have an account?"}{" "}
          <button
            type="button"
            className="link"
            onClick={() => {
              setMode(mode === "signIn" ? "signUp" : "signIn");
              setError(null);
              setTouched(false);
            }}
          >
            {mode === "signIn" ? "Create an account" : "Sign in"}
          </button>
        </p>
      </div>
    </main>
  );
}
