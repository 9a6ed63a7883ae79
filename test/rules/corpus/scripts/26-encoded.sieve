require "fileinto";
if header :contains "subject" "€10" { fileinto "Euro"; }
if address :is "from" "dave@shop.test" { fileinto "Dave"; }
if header :contains "from" "Müller" { fileinto "Umlaut"; }
