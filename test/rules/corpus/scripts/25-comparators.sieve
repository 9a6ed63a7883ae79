require "fileinto";
if header :is :comparator "i;octet" "subject" "big sale today" { fileinto "OctetLower"; }
if header :is :comparator "i;ascii-casemap" "subject" "BIG SALE TODAY" { fileinto "Casemap"; }
if header :matches :comparator "i;octet" "subject" "Big?sale*" { fileinto "OctetGlob"; }
if header :contains "from" "BOB" { fileinto "FromBob"; }
