require ["envelope", "fileinto"];
if envelope :domain "from" "remote.test" { fileinto "EnvRemote"; }
if envelope :localpart :is "to" "me" { fileinto "EnvMe"; }
if envelope :is "from" "nobody@nowhere.test" { fileinto "Never"; }
