package customer

import (
	"math"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/tiffin-dev/tiffin/internal/fault"
)

// idPattern is the rule customer IDs follow everywhere: the one checkout applies to
// customer_id (order.validatePlace), which services may not import from each other.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// phonePattern is E.164 as people type it without spaces: a plus and 7 to 15 digits.
var phonePattern = regexp.MustCompile(`^\+[0-9]{7,15}$`)

// Bounds on a profile's fields, in characters unless said otherwise. They match the Profile
// and Address schema tags, so the HTTP edge and the Go API refuse the same input.
const (
	maxName     = 200
	maxEmail    = 254 // bytes: RFC 5321's path limit less the angle brackets
	maxLanguage = 35  // bytes: RFC 5646 4.4.1's minimum a tag buffer must hold
	maxLine1    = 200
	maxCity     = 100
	maxPostcode = 16
)

// validate checks pr and puts it in the form stored: text trimmed, the language tag and
// country code canonical, an address with nothing in it absent. Locations name the HTTP
// request fields.
func (pr *Profile) validate() error {
	var err error
	if pr.Name, err = text("body.name", pr.Name, maxName); err != nil {
		return err
	}
	if pr.Name == "" {
		return fault.Field("body.name", pr.Name, "must not be empty")
	}
	if pr.Email, err = email(pr.Email); err != nil {
		return err
	}
	pr.Phone = strings.TrimSpace(pr.Phone)
	if pr.Phone != "" && !phonePattern.MatchString(pr.Phone) {
		return fault.Field("body.phone", pr.Phone, "must be + and 7 to 15 digits (E.164), such as +919876543210")
	}
	if pr.Language, err = languageTag(pr.Language); err != nil {
		return err
	}
	if pr.Address != nil {
		a := *pr.Address // the caller's value stays as given
		if err := a.validate(); err != nil {
			return err
		}
		pr.Address = &a
		if a == (Address{}) {
			pr.Address = nil
		}
	}
	if pr.Notify != nil {
		n := *pr.Notify
		pr.Notify = &n
		if n.Email && pr.Email == "" {
			return fault.Field("body.email", pr.Email, "is required when notify.email is true")
		}
	}
	return nil
}

func (a *Address) validate() error {
	var err error
	if a.Line1, err = text("body.address.line1", a.Line1, maxLine1); err != nil {
		return err
	}
	if a.City, err = text("body.address.city", a.City, maxCity); err != nil {
		return err
	}
	if a.Postcode, err = text("body.address.postcode", a.Postcode, maxPostcode); err != nil {
		return err
	}
	if a.Country, err = country(a.Country); err != nil {
		return err
	}
	if a.Country == "" && (a.Line1 != "" || a.City != "" || a.Postcode != "") {
		return fault.Field("body.address.country", a.Country, "is required with line1, city or postcode")
	}
	switch {
	case a.Lat != nil && a.Lng == nil:
		return fault.Field("body.address.lng", nil, "is required with lat")
	case a.Lng != nil && a.Lat == nil:
		return fault.Field("body.address.lat", nil, "is required with lng")
	case a.Lat == nil:
		return nil
	}
	lat, lng := *a.Lat, *a.Lng
	if !(lat >= -90 && lat <= 90) { // false for NaN too
		return fault.Field("body.address.lat", jsonSafe(lat), "must be a latitude in [-90, 90]")
	}
	if !(lng >= -180 && lng <= 180) {
		return fault.Field("body.address.lng", jsonSafe(lng), "must be a longitude in [-180, 180]")
	}
	if lat == 0 && lng == 0 {
		// As checkout refuses a delivery there: 0,0 is a missing position, not an address.
		return fault.Field("body.address.lat", lat, "0,0 is not an address; leave lat and lng out when unknown")
	}
	a.Lat, a.Lng = &lat, &lng
	return nil
}

// text trims v and checks it is printable UTF-8 of at most max characters.
func text(loc, v string, max int) (string, error) {
	if !utf8.ValidString(v) {
		return "", fault.Field(loc, strings.ToValidUTF8(v, "\uFFFD"), "must be UTF-8")
	}
	v = strings.TrimSpace(v)
	if n := utf8.RuneCountInString(v); n > max {
		return "", fault.Field(loc, v, "must be at most %d characters", max)
	}
	if strings.ContainsFunc(v, unicode.IsControl) {
		return "", fault.Field(loc, v, "must not contain control characters")
	}
	return v, nil
}

// email checks v is an address alone (a@example.com), without a display name or comments.
func email(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if len(v) > maxEmail {
		return "", fault.Field("body.email", v, "must be at most %d bytes", maxEmail)
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Name != "" || a.Address != v {
		return "", fault.Field("body.email", v, "must be an e-mail address such as name@example.com, without a display name")
	}
	return v, nil
}

// languageTag checks v is a well-formed BCP 47 tag of known subtags and returns its
// canonical form ("en_in" becomes "en-IN").
func languageTag(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if len(v) > maxLanguage {
		return "", fault.Field("body.language", v, "must be at most %d bytes", maxLanguage)
	}
	tag, err := language.Parse(v)
	if err != nil || tag == language.Und {
		return "", fault.Field("body.language", v, "must be a BCP 47 language tag such as en-IN or hi")
	}
	return tag.String(), nil
}

// country checks v is an ISO 3166-1 alpha-2 country code and returns it in capitals.
func country(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	r, err := language.ParseRegion(v)
	if err != nil || len(v) != 2 || !r.IsCountry() {
		return "", fault.Field("body.address.country", v, "must be an ISO 3166-1 alpha-2 country code such as IN")
	}
	return r.String(), nil
}

// jsonSafe is v as a problem detail's value: JSON has no NaN or infinities.
func jsonSafe(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return v
}
