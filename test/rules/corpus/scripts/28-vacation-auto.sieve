require ["vacation", "fileinto"];
if header :contains "subject" "office" { fileinto "OOO"; }
vacation :days 1 "Auto replies never go to automated mail.";
