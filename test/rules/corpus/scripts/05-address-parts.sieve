require ["fileinto", "subaddress"];
if address :domain "from" "remote.test" { fileinto "Remote"; }
if address :localpart :is "to" "me" { fileinto "Me"; }
if address :detail "cc" "lists" { fileinto "Lists"; }
if address :user "cc" "me" { fileinto "MeUser"; }
if address :all :matches "from" "*@*.test" { fileinto "AnyTest"; }
