require ["regex", "fileinto", "variables"];
if header :regex "subject" "^\\[([a-z]+)\\]" {
  fileinto "re.${1}";
} elsif header :regex "subject" "(sale|offer|won)" {
  fileinto "re-commercial";
}
