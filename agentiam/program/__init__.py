"""The Pulumi program as it really runs: capture under the SDK's mock runtime, canonical snapshots of what deploys."""
