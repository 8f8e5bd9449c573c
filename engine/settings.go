package engine

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/sqlerr"
	"github.com/sluice-db/sluice/types"
)

// setting describes one configuration parameter (GUC).
type setting struct {
	name     string // canonical spelling, as SHOW reports it
	desc     string
	report   bool // sent as ParameterStatus when it changes
	readOnly bool
	def      func(s *session) string
	// check validates a new value and returns its normalised form.
	check func(s *session, v string) (string, error)
}

var settingList = []*setting{
	{name: "application_name", desc: "Sets the application name to be reported in statistics and logs.", report: true, def: constant("")},
	{name: "client_encoding", desc: "Sets the client's character set encoding.", report: true, def: constant("UTF8"), check: checkEncoding},
	{name: "DateStyle", desc: "Sets the display format for date and time values.", report: true, def: constant("ISO, MDY"), check: checkDateStyle},
	{name: "default_transaction_isolation", desc: "Sets the transaction isolation level of each new transaction.", def: constant("read committed"), check: checkIsolation},
	{name: "extra_float_digits", desc: "Sets the number of digits displayed for floating-point values.", def: constant("1"), check: checkIntRange("extra_float_digits", -15, 3)},
	{name: "integer_datetimes", desc: "Shows whether datetimes are integer based.", report: true, readOnly: true, def: constant("on")},
	{name: "IntervalStyle", desc: "Sets the display format for interval values.", report: true, def: constant("postgres"), check: checkIntervalStyle},
	{name: "is_superuser", desc: "Shows whether the current user is a superuser.", report: true, readOnly: true, def: func(s *session) string {
		return map[bool]string{true: "on", false: "off"}[s.isSuperuser()]
	}},
	{name: "max_identifier_length", desc: "Shows the maximum identifier length.", readOnly: true, def: constant("63")},
	{name: "max_index_keys", desc: "Shows the maximum number of index keys.", readOnly: true, def: constant("32")},
	{name: "password_encryption", desc: "Chooses the algorithm for encrypting passwords.", def: constant("scram-sha-256"), check: checkPasswordEncryption},
	{name: "search_path", desc: "Sets the schema search order for names that are not schema-qualified.", def: constant(`"$user", public`), check: checkSearchPath},
	{name: "server_encoding", desc: "Shows the server (database) character set encoding.", readOnly: true, def: constant("UTF8")},
	{name: "server_version", desc: "Shows the server version.", report: true, readOnly: true, def: constant("16.4")},
	{name: "server_version_num", desc: "Shows the server version as an integer.", readOnly: true, def: constant("160004")},
	{name: "session_authorization", desc: "Sets the session user name.", report: true, readOnly: true, def: func(s *session) string { return s.user }},
	{name: "standard_conforming_strings", desc: "Causes '...' strings to treat backslashes literally.", report: true, def: constant("on"), check: checkOnlyOn("standard_conforming_strings")},
	{name: "statement_timeout", desc: "Sets the maximum allowed duration of any statement.", def: constant("0"), check: checkTimeout},
	{name: "TimeZone", desc: "Sets the time zone for displaying and interpreting time stamps.", report: true, def: func(s *session) string { return s.e.defaultTZ }, check: checkTimeZone},
	{name: "transaction_isolation", desc: "Sets the current transaction's isolation level.", def: constant("read committed"), check: checkIsolation},
	{name: "transaction_read_only", desc: "Sets the current transaction's read-only status.", def: constant("off"), check: checkBool("transaction_read_only")},
	{name: "default_transaction_read_only", desc: "Sets the default read-only status of new transactions.", def: constant("off"), check: checkBool("default_transaction_read_only")},
	{name: "lock_timeout", desc: "Sets the maximum allowed duration of any wait for a lock.", def: constant("0"), check: checkTimeout},
	{name: "idle_in_transaction_session_timeout", desc: "Sets the maximum allowed idle time between queries, when in a transaction.", def: constant("0"), check: checkTimeout},
	{name: "client_min_messages", desc: "Sets the message levels that are sent to the client.", def: constant("notice")},
	{name: "timezone_abbreviations", desc: "Selects a file of time zone abbreviations.", def: constant("Default")},
	{name: "bytea_output", desc: "Sets the output format for bytea.", def: constant("hex")},
	{name: resultCacheSetting, desc: "Answers a read-only statement over views with another run's answer at the same published epoch.", def: constant("on"), check: checkBool(resultCacheSetting)},
}

var settingsByName = func() map[string]*setting {
	m := map[string]*setting{}
	for _, st := range settingList {
		m[strings.ToLower(st.name)] = st
	}
	return m
}()

func init() {
	sort.Slice(settingList, func(i, j int) bool {
		return strings.ToLower(settingList[i].name) < strings.ToLower(settingList[j].name)
	})
}

func constant(v string) func(*session) string { return func(*session) string { return v } }

func invalidValue(name, v string) *sqlerr.Error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"%s\": \"%s\"", name, v)
}

// checkEncoding accepts UTF8 and SQL_ASCII. SQL_ASCII is what psql asks
// for on a terminal under the C locale; PostgreSQL converts nothing for it,
// and neither does Sluice (it sends and reads UTF8 as it is).
func checkEncoding(_ *session, v string) (string, error) {
	switch strings.ToUpper(strings.ReplaceAll(v, "-", "")) {
	case "UTF8", "UNICODE":
		return "UTF8", nil
	case "SQL_ASCII":
		return "SQL_ASCII", nil
	case "LATIN1", "WIN1252", "LATIN9", "EUC_JP", "SJIS":
		return "", sqlerr.Unsupported("client_encoding %q is not supported; Sluice speaks UTF8 only", v)
	}
	return "", invalidValue("client_encoding", v)
}

// checkDateStyle parses DateStyle as Postgres does: the parts not given keep
// their current value.
func checkDateStyle(s *session, v string) (string, error) {
	var cur types.DateStyle
	if s != nil {
		if old, ok := s.vals["datestyle"]; ok {
			cur, _ = types.ParseDateStyle(old, types.DateStyle{})
		}
	}
	ds, err := types.ParseDateStyle(v, cur)
	if err != nil {
		return "", err
	}
	return ds.String(), nil
}

func checkIntervalStyle(_ *session, v string) (string, error) {
	if st, ok := types.ParseIntervalStyle(v); ok {
		return st.String(), nil
	}
	return "", invalidValue("IntervalStyle", v).WithHint("Available values: postgres, postgres_verbose, sql_standard, iso_8601.")
}

func checkIsolation(_ *session, v string) (string, error) {
	switch l := strings.ToLower(v); l {
	case "read committed", "read uncommitted", "repeatable read", "serializable":
		return l, nil
	}
	return "", invalidValue("transaction_isolation", v).WithHint("Available values: serializable, repeatable read, read committed, read uncommitted.")
}

func checkIntRange(name string, lo, hi int) func(*session, string) (string, error) {
	return func(_ *session, v string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"%s\": \"%s\"", name, v)
		}
		if n < lo || n > hi {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "%d is outside the valid range for parameter \"%s\" (%d .. %d)", n, name, lo, hi)
		}
		return strconv.Itoa(n), nil
	}
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1", "t", "y":
		return true, true
	case "off", "false", "no", "0", "f", "n":
		return false, true
	}
	return false, false
}

func checkBool(name string) func(*session, string) (string, error) {
	return func(_ *session, v string) (string, error) {
		b, ok := parseBool(v)
		if !ok {
			return "", sqlerr.New(sqlerr.InvalidParameterValue, "parameter \"%s\" requires a Boolean value", name)
		}
		if b {
			return "on", nil
		}
		return "off", nil
	}
}

func checkOnlyOn(name string) func(*session, string) (string, error) {
	return func(s *session, v string) (string, error) {
		out, err := checkBool(name)(s, v)
		if err == nil && out != "on" {
			return "", sqlerr.Unsupported("%s = off is not supported", name)
		}
		return out, err
	}
}

// checkPasswordEncryption accepts the one algorithm Sluice stores
// passwords with (psql's \password asks for it to hash a new password).
func checkPasswordEncryption(_ *session, v string) (string, error) {
	if lower(strings.TrimSpace(v)) != "scram-sha-256" {
		return "", sqlerr.Unsupported("password_encryption = %s is not supported", v).WithHint("Passwords are stored as SCRAM-SHA-256 verifiers.")
	}
	return "scram-sha-256", nil
}

// parseTimeout reads a duration GUC (milliseconds by default).
func parseTimeout(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.' || v[i] == '-') {
		i++
	}
	n, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, false
	}
	unit := time.Millisecond
	switch strings.TrimSpace(v[i:]) {
	case "", "ms":
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "min":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, false
	}
	d := time.Duration(math.Round(n * float64(unit) / float64(time.Millisecond)))
	if d < 0 {
		return 0, false
	}
	return d * time.Millisecond, true
}

func checkTimeout(_ *session, v string) (string, error) {
	d, ok := parseTimeout(v)
	if !ok {
		return "", sqlerr.New(sqlerr.InvalidParameterValue, "invalid value for parameter \"statement_timeout\": \"%s\"", v).
			WithHint("Valid units for this parameter are \"us\", \"ms\", \"s\", \"min\", \"h\", and \"d\".")
	}
	ms := d.Milliseconds()
	switch {
	case ms == 0:
		return "0", nil
	case ms%(24*3600*1000) == 0:
		return fmt.Sprintf("%dd", ms/(24*3600*1000)), nil
	case ms%(3600*1000) == 0:
		return fmt.Sprintf("%dh", ms/(3600*1000)), nil
	case ms%(60*1000) == 0:
		return fmt.Sprintf("%dmin", ms/(60*1000)), nil
	case ms%1000 == 0:
		return fmt.Sprintf("%ds", ms/1000), nil
	}
	return fmt.Sprintf("%dms", ms), nil
}

// checkTimeZone accepts zone names ('UTC', 'Europe/Paris'), numeric hour
// offsets (east of Greenwich, as SET TIME ZONE -7) and POSIX-style offsets
// ('UTC+3', '+02:00': west of Greenwich, as Postgres reads them).
func checkTimeZone(_ *session, v string) (string, error) {
	if _, ok := resolveZone(v); ok {
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			loc, _ := resolveZone(v)
			return loc.String(), nil
		}
		return v, nil
	}
	return "", invalidValue("TimeZone", v)
}

// resolveZone maps a TimeZone value to a location.
func resolveZone(v string) (*time.Location, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, false
	}
	if h, err := strconv.ParseFloat(v, 64); err == nil {
		if math.Abs(h) > 15*24 {
			return nil, false
		}
		secs := int(math.Round(h * 3600))
		return time.FixedZone(posixName(secs), secs), true
	}
	if loc, ok := types.LoadZone(v); ok {
		return loc, true
	}
	// POSIX: [name]sign hh[:mm[:ss]], the offset counted west of Greenwich.
	s := v
	if strings.HasPrefix(s, "<") {
		if i := strings.IndexByte(s, '>'); i > 0 {
			s = s[i+1:]
		}
	} else {
		i := 0
		for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			i++
		}
		if i > 0 && i < 3 {
			return nil, false
		}
		s = s[i:]
	}
	if s == "" {
		return nil, false
	}
	sign := 1
	switch s[0] {
	case '+':
		s = s[1:]
	case '-':
		sign = -1
		s = s[1:]
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return nil, false
	}
	mult := []int{3600, 60, 1}
	secs := 0
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || (i > 0 && n > 59) || (i == 0 && n > 167) {
			return nil, false
		}
		secs += n * mult[i]
	}
	east := -sign * secs
	return time.FixedZone(posixName(east), east), true
}

// posixName names a fixed offset zone as Postgres prints it: "<+03>-03".
func posixName(east int) string {
	sign := "+"
	a := east
	if east < 0 {
		sign = "-"
		a = -east
	}
	hm := fmt.Sprintf("%02d", a/3600)
	if a%3600 != 0 {
		hm += fmt.Sprintf(":%02d", a%3600/60)
	}
	inv := "-"
	if sign == "-" {
		inv = "+"
	}
	return "<" + sign + hm + ">" + inv + hm
}

// checkSearchPath accepts a search_path that is a list of identifiers.
func checkSearchPath(_ *session, v string) (string, error) {
	if _, ok := types.SplitIdentifiers(v, ','); !ok {
		return "", invalidValue("search_path", v).WithDetail("List syntax is invalid.")
	}
	return v, nil
}

// searchPath splits a search_path value into schema names, resolving "$user".
func searchPath(v, user string) []string {
	names, _ := types.SplitIdentifiers(v, ',') // NB: checkSearchPath let only lists in
	for i, name := range names {
		if name == "$user" {
			names[i] = user
		}
	}
	return names
}
