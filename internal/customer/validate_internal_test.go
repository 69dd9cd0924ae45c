package customer

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/tiffin-dev/tiffin/internal/fault"
)

// FuzzValidate feeds arbitrary profiles to validate: a refusal is a field error in the body,
// and an accepted profile is in its stored form already (validating it again changes nothing),
// keeps within its bounds and survives the JSON it is stored as.
func FuzzValidate(f *testing.F) {
	f.Add("Asha Rao", "asha@example.com", "+919876543210", "en_in", "12 MG Road", "Bengaluru", "560001", "in", 12.97, 77.59, true, true)
	f.Add(" ", "Asha <a@b.c>", "12", "und", "", "", "", "IND", 0.0, 0.0, true, false)
	f.Add("x\x00", "@", "+", "zh-Hant-TW", "\xff", "", "", "GB", math.NaN(), math.Inf(1), true, true)
	f.Add("Ravi", "", "", "", "", "", "", "", 91.0, 0.0, false, true)
	f.Fuzz(func(t *testing.T, name, email, phone, lang, line1, city, postcode, country string, lat, lng float64, pos, notifyEmail bool) {
		in := Profile{Name: name, Email: email, Phone: phone, Language: lang,
			Address: &Address{Line1: line1, City: city, Postcode: postcode, Country: country},
			Notify:  &Notify{Email: notifyEmail}}
		if pos {
			in.Address.Lat, in.Address.Lng = &lat, &lng
		}
		p := in
		err := p.validate()
		if err != nil {
			var fe *fault.FieldError
			if !errors.As(err, &fe) || !strings.HasPrefix(fe.Location, "body.") {
				t.Fatalf("refusal %v: want a field error in the body", err)
			}
			if _, err := json.Marshal(fe.Value); err != nil {
				t.Fatalf("refusal at %s: value %#v can't be shown as JSON: %v", fe.Location, fe.Value, err)
			}
			return
		}
		if p.Name == "" || utf8.RuneCountInString(p.Name) > maxName || len(p.Email) > maxEmail {
			t.Fatalf("accepted out of bounds: %+v", p)
		}
		again := p
		if err := again.validate(); err != nil {
			t.Fatalf("accepted %+v, then refused its stored form: %v", p, err)
		}
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("validating the stored form changed it (-first +second):\n%s", diff)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("encode %+v: %v", p, err)
		}
		var back Profile
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if diff := cmp.Diff(p, back); diff != "" {
			t.Fatalf("JSON round trip (-stored +read):\n%s", diff)
		}
		if in.Address.Line1 != line1 || in.Name != name {
			t.Fatal("validate changed the caller's values")
		}
	})
}
