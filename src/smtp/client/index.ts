// The outbound SMTP client: the public entry of src/smtp/client (import from here, not deeper).
export { SmtpConnection, type ConnectionTarget, type TlsVerify } from "./connection.js";
export { SmtpClientError, type ClientErrorKind } from "./errors.js";
export {
  pkixProblem,
  usableTlsa,
  type CertificateProblem,
  type CertificateResult,
} from "./certificate-check.js";
export { parseExtensions, type Extensions } from "./extensions.js";
export { capabilityProblem, needsSmtputf8, requireTlsProblem, sendsChunked } from "./mail-params.js";
export { type OutboundMessage, type OutboundRecipient } from "./message.js";
export { clientOptions, type ClientOptions } from "./options.js";
export {
  OPPORTUNISTIC,
  openSession,
  type SessionOpen,
  type SessionSecurity,
  type TlsMode,
} from "./session.js";
export { type Credentials } from "./sasl.js";
export { logOutcomes, type LoggedJob } from "./outcome-log.js";
export {
  PooledSessions,
  type AfterTransaction,
  type Attempt,
  type DeliveryPlan,
  type PooledOptions,
} from "./pooled.js";
export {
  runTransaction,
  transactionInput,
  type TransactionInput,
  type TransactionResult,
} from "./transaction.js";
