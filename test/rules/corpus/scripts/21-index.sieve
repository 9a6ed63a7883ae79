require ["index", "fileinto"];
if header :index 1 :contains "received" "relay2" { fileinto "FirstRelay2"; }
if header :index 1 :last :contains "received" "relay1" { fileinto "LastRelay1"; }
if header :index 2 :contains "received" "relay2" { fileinto "Never"; }
if address :index 2 :is "to" "you@example.test" { fileinto "SecondTo"; }
