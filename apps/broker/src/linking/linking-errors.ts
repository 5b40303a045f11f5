import { PageError } from "../errors.ts";
import { lockoutHeaders } from "../plugins/rate-limit-policy.ts";
import { LOCK_MS, MAX_FAILURES } from "./totp-service.ts";

/** The linking flow's page errors; the error handler renders them with their "Return to Messenger" link. */
export const linkError = (code: string, title: string, message: string, nextStep: string, status = 400) => new PageError(code, title, message, nextStep, status);

const START_AGAIN = "Close this page and tap “Link account” in the chat again.";

export const Errors = {
  unknownClient: () => linkError("unknown_client", "This link is not valid", "The bank named in this link is not registered with us.", "Contact your bank through its usual channels."),
  clientNotReady: () => linkError("client_not_configured", "Linking is not available", "This bank has not finished setting up account linking.", "Try again later, or contact your bank."),
  badRedirect: () => linkError("invalid_redirect_uri", "This link is not valid", "The link did not come from Messenger, so we will not send you anywhere from here.", "Open the bank's chat in Messenger and tap “Link account” there."),
  missingToken: () => linkError("missing_account_linking_token", "This link is not valid", "The link is missing Messenger's account linking token.", START_AGAIN),
  expiredToken: () => linkError("expired_account_linking_token", "This link has expired", "Messenger's linking links work for 5 minutes, and this one is no longer valid.", START_AGAIN),
  graphDown: () => linkError("messenger_unavailable", "Messenger is not answering", "We could not confirm your Messenger account just now.", "Wait a minute, then tap “Link account” in the chat again.", 503),
  pageMismatch: () => linkError("page_mismatch", "This link is not valid", "The link belongs to a different Messenger page than this bank's.", START_AGAIN),
  badRequest: (detail: string) => linkError("invalid_request", "This link is not valid", `The bank's link request is not valid: ${detail}.`, "Contact your bank; its link button needs fixing."),
  notOffered: () => linkError("permission_not_offered", "This form is not valid", "The form asked for a permission this link did not offer, so nothing was linked.", "Go back, choose among the permissions shown, and try again."),
  bankDown: () => linkError("bank_unavailable", "Your bank is not answering", "We could not reach your bank's sign-in service.", "Wait a minute, then start again from the chat.", 503),
  noSession: () => linkError("session_missing", "We lost track of this link", "This page was opened without the link you started, or your browser did not keep its cookie.", START_AGAIN),
  expired: () => linkError("attempt_expired", "This link has expired", "Linking must be finished within 10 minutes.", START_AGAIN),
  wrongStep: () => linkError("wrong_step", "This step is not available", "This linking step was already done, or an earlier step is not finished.", START_AGAIN, 409),
  stateMismatch: () => linkError("state_mismatch", "Sign-in could not be confirmed", "The answer from your bank did not match this link, so we stopped for your safety.", START_AGAIN),
  bankRefused: () => linkError("bank_login_failed", "Sign-in did not complete", "Your bank did not confirm your sign-in.", START_AGAIN),
  csrf: () => linkError("invalid_form", "This form has expired", "The form was not sent from this link's page.", START_AGAIN, 403),
  locked: (until: Date, now: Date) => {
    const e = linkError("second_factor_locked", "Security code locked", `Too many wrong codes. Your security code is locked until ${until.toISOString().replace("T", " ").slice(0, 16)} UTC.`, "Wait until then, then start again from the chat.", 429);
    Object.assign(e.headers, lockoutHeaders("second-factor", MAX_FAILURES, LOCK_MS, until, now));
    return e;
  },
  tooManyLinks: () => linkError("rate_limited", "Please wait", "Too many links were opened in a short time.", "Wait a minute, then tap the link in Messenger again.", 429),
  tooFast: () => linkError("rate_limited", "Please wait", "Too many codes were tried in a short time.", "Wait a few minutes, then try again.", 429),
  tooManyViews: () => linkError("rate_limited", "Please wait", "This page was opened too many times in a short time.", "Wait a few minutes, then try again.", 429),
};
