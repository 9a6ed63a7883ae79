require "fileinto";
if allof (exists "from", not exists "list-id", anyof (header :contains "subject" "sale", size :over 1M)) {
  fileinto "Combo";
} elsif anyof (false, header :is "precedence" "list") {
  fileinto "ListPrecedence";
}
