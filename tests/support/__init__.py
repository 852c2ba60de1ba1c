"""What tests share: builders, fakes and clients. Never a test module itself."""
