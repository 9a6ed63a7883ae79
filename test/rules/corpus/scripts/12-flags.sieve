require ["imap4flags", "fileinto"];
setflag "\\Seen";
addflag ["\\Flagged", "Work"];
removeflag "\\Seen";
if header :contains "subject" "sale" {
  fileinto :flags "\\Answered" "Sales";
}
keep;
