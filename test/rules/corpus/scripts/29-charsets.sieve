require ["body", "fileinto"];
if header :contains "subject" "件名" { fileinto "JaSubject"; }
if body :text :contains "明日" { fileinto "JaBody"; }
if body :text :contains "東京支店" { fileinto "Tokyo"; }
if body :content "text/html" :contains "Привет" { fileinto "Russian"; }
if body :text :contains "BINARY" { fileinto "BinaryText"; }
if body :content "application" :contains "BINARY DATA" { fileinto "App"; }
if body :content "message/rfc822" :contains "件名" { fileinto "Embedded"; }
