require ["body", "fileinto"];
if body :text :contains "unsubscribe" { fileinto "Bulk"; }
if body :content "text/html" :contains "<b>" { fileinto "Html"; }
if body :raw :contains "=E2=82=AC" { fileinto "RawQP"; }
if body :contains "big sale" { fileinto "BodySale"; }
