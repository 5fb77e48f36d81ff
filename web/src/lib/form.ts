import { useState, type FormEvent } from "react";
import { errorMessage } from "./errors";

/**
 * A form's submit cycle: show field errors from the first attempt on, stop
 * while `invalid`, run `action` (which resets the fields), show its error.
 */
export function useFormSubmit(invalid: boolean, action: () => Promise<void>) {
  const [submitted, setSubmitted] = useState(false);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function onSubmit(e: FormEvent) {
    e.preventDefault();
    setSubmitted(true);
    if (invalid) return;
    setPending(true);
    setError(null);
    try {
      await action();
      setSubmitted(false);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }
  return { submitted, pending, error, setError, onSubmit };
}

/** A button's async action: `pending` while it runs, the message of its error after. */
export function useAction() {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function run(action: () => Promise<void>) {
    setPending(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setPending(false);
    }
  }
  return { pending, error, setError, run };
}
