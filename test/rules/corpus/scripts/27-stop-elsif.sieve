require "fileinto";
if header :contains "subject" "weekly" {
  fileinto "Weekly";
  stop;
} elsif header :contains "subject" "YOU" {
  fileinto "Shouting";
}
fileinto "After";
