require ["variables", "fileinto"];
if header :matches "subject" "[*] *" {
  fileinto "lists.${1}";
} elsif address :matches "from" "*@*" {
  set :lower "dom" "${2}";
  set :upperfirst "who" "${1}";
  fileinto "from.${dom}.${who}";
}
