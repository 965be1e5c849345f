"""AWS access: DynamoDB, Secrets Manager, EventBridge. Domain code talks to these classes only."""
