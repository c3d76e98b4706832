"""Album events: the history of comments and mutations, and their publication for webhooks."""
