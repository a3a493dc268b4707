package identity

// MonthNumber is monthNumber, for the tests of package identity_test.
func MonthNumber(w string) int { return monthNumber([]byte(w)) }
