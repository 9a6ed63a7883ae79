require ["imap4flags", "fileinto", "variables"];
addflag "Junk";
if hasflag :contains "junk" { fileinto "J"; }
set "mine" "";
addflag "mine" ["a", "b"];
if hasflag "mine" "b" { fileinto :flags "${mine}" "M"; }
