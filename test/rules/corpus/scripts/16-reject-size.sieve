# (ereject is not in Pigeonhole 2.3; the interpreter tests cover it)
require "reject";
if size :over 2K {
  reject text:
Your message is too big.
Please send a link instead.
.
;
}
