require ["fileinto", "copy"];
keep;
fileinto "A";
fileinto :copy "A";
keep;
redirect "one@example.test";
redirect "one@example.test";
redirect "two@example.test";
