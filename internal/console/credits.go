package console

import (
	"strconv"

	"github.com/keyward/keyward"
)

// creditsToForm shows c (nil: unlimited) in the key form.
func creditsToForm(f *keyForm, c *keyward.Credits) {
	f.Credits, f.Refill, f.RefillAmount, f.RefillDay = "", "", "", ""
	if c != nil {
		f.Credits = strconv.FormatInt(c.Remaining, 10)
		if r := c.Refill; r != nil {
			f.Refill, f.RefillAmount = r.Interval, strconv.FormatInt(r.Amount, 10)
			if r.DayOfMonth > 0 {
				f.RefillDay = strconv.Itoa(r.DayOfMonth)
			}
		}
	}
	f.CreditsWas = creditsState(f)
}

// creditsState is the credit fields as one string, to tell a change.
func creditsState(f *keyForm) string {
	return f.Credits + "|" + f.Refill + "|" + f.RefillAmount + "|" + f.RefillDay
}

// creditsFromForm reads the credit fields into in when they changed (on
// a new key: when given), recording errors in f.Errors["credits"].
func creditsFromForm(f *keyForm, in *keyward.APIKeyInput, prev *keyward.APIKey) {
	if prev != nil && creditsState(f) == f.CreditsWas {
		return
	}
	if f.Credits == "" {
		if f.Refill != "" {
			f.Errors["credits"] = "Enter the uses left, or choose no refill."
			return
		}
		if prev != nil && prev.Credits != nil {
			in.Credits = keyward.Null[keyward.Credits]()
		}
		return
	}
	n, err := strconv.ParseInt(f.Credits, 10, 64)
	if err != nil || n < 0 || n > keyward.MaxCredits {
		f.Errors["credits"] = "Enter a whole number of uses, 0 or more, or leave it empty for unlimited uses."
		return
	}
	c := &keyward.Credits{Remaining: n}
	switch f.Refill {
	case "":
	case keyward.RefillDaily, keyward.RefillMonthly:
		amount, err := strconv.ParseInt(f.RefillAmount, 10, 64)
		if err != nil || amount < 1 || amount > keyward.MaxCredits {
			f.Errors["credits"] = "Enter how many uses a refill gives, at least 1."
			return
		}
		c.Refill = &keyward.Refill{Amount: amount, Interval: f.Refill}
		if f.Refill == keyward.RefillMonthly && f.RefillDay != "" {
			d, err := strconv.Atoi(f.RefillDay)
			if err != nil || d < 1 || d > 31 {
				f.Errors["credits"] = "Choose a day of the month from 1 to 31."
				return
			}
			c.Refill.DayOfMonth = d
		}
	default:
		f.Errors["credits"] = "Choose a refill from the list."
		return
	}
	in.Credits = keyward.Some(*c)
}
