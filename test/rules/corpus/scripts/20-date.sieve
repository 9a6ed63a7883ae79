require ["date", "relational", "fileinto"];
if date :originalzone "date" "year" "2026" { fileinto "y2026"; }
if date :value "lt" :originalzone "date" "hour" "12" { fileinto "Morning"; }
if date :zone "+0000" "date" "date" "2026-12-01" { fileinto "Dec1utc"; }
if date :originalzone "date" "weekday" "2" { fileinto "Tuesday"; }
if currentdate :value "ge" "year" "2000" { fileinto "Now"; }
