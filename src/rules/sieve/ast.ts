// The Sieve syntax tree (RFC 5228 §8.2): commands with arguments, tests and an optional block.
import type { Position } from "./lexer.js";

export type Argument =
  | { readonly kind: "tag"; readonly name: string; readonly pos: Position }
  | { readonly kind: "number"; readonly value: number; readonly pos: Position }
  /** A single string is a list of one; `bracketed` tells the two apart for validation. */
  | {
      readonly kind: "strings";
      readonly values: readonly string[];
      readonly bracketed: boolean;
      readonly pos: Position;
    };

export interface Test {
  readonly name: string;
  readonly pos: Position;
  readonly args: readonly Argument[];
  readonly tests: readonly Test[];
  /** Whether the tests were written as a parenthesised list (allof/anyof) or a single test. */
  readonly testList: boolean;
}

/** A command is written as a test is (RFC 5228 §8.2: identifier, arguments, tests), then ";" or a block. */
export interface Command extends Test {
  readonly block: readonly Command[] | null;
}
