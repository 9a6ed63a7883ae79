require ["copy"];
redirect :copy "archive@example.test";
if exists "list-id" {
  redirect "lists@example.test";
}
redirect :copy "archive@example.test";
