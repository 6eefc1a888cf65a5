"""What Vault/OpenBao audit devices and CloudTrail recorded about agents, read as one normalised record per action."""
