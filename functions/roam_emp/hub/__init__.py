"""The outbound Roam OCPI client: every call we make to Plugsurfing goes through HubClient."""
