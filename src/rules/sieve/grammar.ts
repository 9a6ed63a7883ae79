// What each Sieve command and test takes: the extension it needs, its tagged arguments (grouped
// where only one of a group may appear: match type, comparator, address part), and the shapes of
// its positional arguments. The validator checks scripts against this table and the interpreter
// reads arguments through it, so a command exists in exactly one place.

export type ArgType = "string" | "strings" | "number";

export interface TagSpec {
  readonly param?: ArgType;
  readonly group?: string;
  /** Capability a script must `require` to use this tag. */
  readonly ext?: string;
}

export interface Spec {
  readonly test: boolean;
  readonly ext?: string;
  readonly tags: Readonly<Record<string, TagSpec>>;
  /** Acceptable positional argument sequences. */
  readonly signatures: readonly (readonly ArgType[])[];
  readonly tests: "none" | "one" | "list";
  readonly block: boolean;
}

export const CAPABILITIES = [
  "fileinto",
  "reject",
  "ereject",
  "envelope",
  "body",
  "variables",
  "vacation",
  "copy",
  "imap4flags",
  "relational",
  "subaddress",
  "date",
  "index",
  "regex",
  "editheader",
  "comparator-i;octet",
  "comparator-i;ascii-casemap",
  "comparator-i;ascii-numeric",
] as const;

export const COMPARATORS = ["i;octet", "i;ascii-casemap", "i;ascii-numeric"];

const COMPARATOR: Record<string, TagSpec> = { comparator: { param: "string", group: "comparator" } };
const MATCH: Record<string, TagSpec> = {
  is: { group: "match" },
  contains: { group: "match" },
  matches: { group: "match" },
  regex: { group: "match", ext: "regex" },
  value: { group: "match", param: "string", ext: "relational" },
  count: { group: "match", param: "string", ext: "relational" },
};
const ADDRESS_PART: Record<string, TagSpec> = {
  all: { group: "address-part" },
  localpart: { group: "address-part" },
  domain: { group: "address-part" },
  user: { group: "address-part", ext: "subaddress" },
  detail: { group: "address-part", ext: "subaddress" },
};
const INDEX: Record<string, TagSpec> = {
  index: { param: "number", ext: "index" },
  last: { ext: "index" },
};

const command = (over: Partial<Spec>): Spec => ({
  test: false,
  tags: {},
  signatures: [[]],
  tests: "none",
  block: false,
  ...over,
});
const test = (over: Partial<Spec>): Spec => ({ ...command(over), test: true });

export const COMMANDS: Readonly<Record<string, Spec>> = {
  require: command({ signatures: [["strings"]] }),
  if: command({ tests: "one", block: true }),
  elsif: command({ tests: "one", block: true }),
  else: command({ block: true }),
  stop: command({}),
  keep: command({ tags: { flags: { param: "strings", ext: "imap4flags" } } }),
  discard: command({}),
  redirect: command({ tags: { copy: { ext: "copy" } }, signatures: [["string"]] }),
  fileinto: command({
    ext: "fileinto",
    tags: { copy: { ext: "copy" }, flags: { param: "strings", ext: "imap4flags" } },
    signatures: [["string"]],
  }),
  reject: command({ ext: "reject", signatures: [["string"]] }),
  ereject: command({ ext: "ereject", signatures: [["string"]] }),
  vacation: command({
    ext: "vacation",
    tags: {
      days: { param: "number" },
      subject: { param: "string" },
      from: { param: "string" },
      addresses: { param: "strings" },
      mime: {},
      handle: { param: "string" },
    },
    signatures: [["string"]],
  }),
  set: command({
    ext: "variables",
    tags: {
      lower: { group: "case" },
      upper: { group: "case" },
      lowerfirst: { group: "first" },
      upperfirst: { group: "first" },
      quotewildcard: { group: "quote" },
      quoteregex: { group: "quote", ext: "regex" },
      length: { group: "length" },
    },
    signatures: [["string", "string"]],
  }),
  setflag: command({ ext: "imap4flags", signatures: [["strings"], ["string", "strings"]] }),
  addflag: command({ ext: "imap4flags", signatures: [["strings"], ["string", "strings"]] }),
  removeflag: command({ ext: "imap4flags", signatures: [["strings"], ["string", "strings"]] }),
  addheader: command({ ext: "editheader", tags: { last: {} }, signatures: [["string", "string"]] }),
  deleteheader: command({
    ext: "editheader",
    tags: { ...COMPARATOR, ...MATCH, index: { param: "number" }, last: {} },
    signatures: [["string"], ["string", "strings"]],
  }),
};

export const TESTS: Readonly<Record<string, Spec>> = {
  address: test({
    tags: { ...COMPARATOR, ...ADDRESS_PART, ...MATCH, ...INDEX },
    signatures: [["strings", "strings"]],
  }),
  envelope: test({
    ext: "envelope",
    tags: { ...COMPARATOR, ...ADDRESS_PART, ...MATCH },
    signatures: [["strings", "strings"]],
  }),
  header: test({ tags: { ...COMPARATOR, ...MATCH, ...INDEX }, signatures: [["strings", "strings"]] }),
  exists: test({ signatures: [["strings"]] }),
  size: test({ tags: { over: { group: "size" }, under: { group: "size" } }, signatures: [["number"]] }),
  true: test({}),
  false: test({}),
  not: test({ tests: "one" }),
  allof: test({ tests: "list" }),
  anyof: test({ tests: "list" }),
  body: test({
    ext: "body",
    tags: {
      ...COMPARATOR,
      ...MATCH,
      raw: { group: "transform" },
      text: { group: "transform" },
      content: { group: "transform", param: "strings" },
    },
    signatures: [["strings"]],
  }),
  string: test({ ext: "variables", tags: { ...COMPARATOR, ...MATCH }, signatures: [["strings", "strings"]] }),
  hasflag: test({
    ext: "imap4flags",
    tags: { ...COMPARATOR, ...MATCH },
    signatures: [["strings"], ["strings", "strings"]],
  }),
  date: test({
    ext: "date",
    tags: {
      ...COMPARATOR,
      ...MATCH,
      ...INDEX,
      zone: { param: "string", group: "zone" },
      originalzone: { group: "zone" },
    },
    signatures: [["string", "string", "strings"]],
  }),
  currentdate: test({
    ext: "date",
    tags: { ...COMPARATOR, ...MATCH, zone: { param: "string", group: "zone" } },
    signatures: [["string", "strings"]],
  }),
};

export const DATE_PARTS = [
  "year",
  "month",
  "day",
  "date",
  "julian",
  "hour",
  "minute",
  "second",
  "time",
  "iso8601",
  "std11",
  "zone",
  "weekday",
];

export const RELATIONS = ["gt", "ge", "lt", "le", "eq", "ne"];
