"""HTTP plumbing shared by every blueprint: request guards and error rendering."""
