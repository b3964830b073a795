"""The shared core: the merchant database (models, repositories, migrations, demo data),
the knowledge base, privacy and log masking, local secrets, service hours and numbered
choices. The action server (`actions`), the rasa-server add-ons (`addons`) and the agent
console (`console`) all build on it; it imports none of them."""
