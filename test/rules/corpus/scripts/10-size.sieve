require "fileinto";
if size :over 2K {
  fileinto "Big";
} elsif size :under 300 {
  fileinto "Small";
} else {
  fileinto "Medium";
}
