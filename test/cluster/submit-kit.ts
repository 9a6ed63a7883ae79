// Remote submit with real member processes (faults-submit.test.ts, bench/faults): a backend
// whose Submit Messages is Remotely takes submissions and hands them to a Locally for Others
// frontend, or queues them itself when no such member answers; and the log lines that say which.
export const LOCALLY_FOR_OTHERS = "cluster.submitMessages=Locally for Others";

/** A Remotely backend with a submission port (AUTH without TLS, on loopback). */
export const REMOTELY_BACKEND: readonly string[] = [
  "smtp.forwardTo=*",
  "cluster.submitMessages=Remotely",
  "cluster.submitLog=low",
  "submission.listen=127.0.0.1:0",
  "submissions.listen=",
  "smtp.authRequiresTls=false",
];

/** The backend's line for a message handed to a Locally for Others member. */
export const SUBMITTED_REMOTELY = / SUBMIT-\d+\(\) submitted remotely /;
/** The backend's line for a message it queued itself, no such member taking it. */
export const FELL_BACK =
  / SUBMIT-\d+\(\) (remote submit failed on every member tried, submitted locally|no member is Locally for Others, submitting locally) /;
