require ["variables", "fileinto"];
set "greeting" "Hello World";
set :length "n" "${greeting}";
if string :is "${n}" "11" { fileinto "Len11"; }
if string :matches "${greeting}" "H* W*" { fileinto "W.${2}"; }
set :quotewildcard "q" "a*b";
if string :is "${q}" "a\\*b" { fileinto "Quoted"; }
