package email

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/currency"
)

// numberStyle is how a language writes an amount of money.
type numberStyle struct {
	group, decimal string
	codeAfter      bool // "270,00 EUR" rather than "EUR 270.00"
}

var numberStyles = map[string]numberStyle{
	"fr": {group: "\u202f", decimal: ",", codeAfter: true}, // narrow no-break space, as CLDR
}

var defaultNumberStyle = numberStyle{group: ",", decimal: "."}

// formatMoney writes minor units of the ISO 4217 currency code with the currency's own number
// of decimals (2 for INR and EUR, 0 for JPY, 3 for KWD; 2 for a code it doesn't know), in
// lang's style, without floating point: formatMoney(127050, "INR", "en") is "INR 1,270.50".
func formatMoney(minor int64, code, lang string) string {
	code = strings.ToUpper(strings.TrimSpace(code))
	scale := 2
	if u, err := currency.ParseISO(code); err == nil {
		scale, _ = currency.Standard.Rounding(u)
	}
	style, ok := numberStyles[lang]
	if !ok {
		style = defaultNumberStyle
	}

	abs := uint64(minor) // #nosec G115 -- replaced below when minor < 0
	if minor < 0 {
		abs = uint64(-(minor + 1)) + 1 // #nosec G115 -- -(minor+1) >= 0 for every negative int64, math.MinInt64 included
	}
	digits := strconv.FormatUint(abs, 10)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	whole, frac := digits[:len(digits)-scale], digits[len(digits)-scale:]

	var b strings.Builder
	if code != "" && !style.codeAfter {
		b.WriteString(code + " ")
	}
	if minor < 0 {
		b.WriteByte('-')
	}
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(style.group)
		}
		b.WriteRune(r)
	}
	if scale > 0 {
		b.WriteString(style.decimal + frac)
	}
	if code != "" && style.codeAfter {
		b.WriteString("\u00a0" + code)
	}
	return b.String()
}

// timeLayouts are how each language writes a moment; the default is English's.
var timeLayouts = map[string]string{
	"fr": "02/01/2006 15:04 MST",
	"hi": "02/01/2006, 15:04 MST",
}

// formatTime writes t, in its own location, in lang's style; "" for the zero time.
func formatTime(t time.Time, lang string) string {
	if t.IsZero() {
		return ""
	}
	layout, ok := timeLayouts[lang]
	if !ok {
		layout = "2 Jan 2006, 15:04 MST"
	}
	return t.Format(layout)
}
