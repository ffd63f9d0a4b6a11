"""Pure decision logic of the security tests: evidence in, findings out (unit-tested both ways)."""
