# nothing: the implicit keep stores the message in INBOX
