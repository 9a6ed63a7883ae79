require ["editheader", "fileinto", "index"];
addheader "X-Tag" "seen";
if header :is "x-tag" "seen" { fileinto "Tagged"; }
deleteheader "subject";
if not exists "subject" { fileinto "NoSubject"; }
addheader :last "X-Last" "1";
if header :index 1 :last "x-last" "1" { fileinto "LastOne"; }
