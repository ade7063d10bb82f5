"""The component machinery: registries, entry-point discovery and typed ``Config`` params."""
