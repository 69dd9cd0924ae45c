// Package email is the e-mail channel of tiffin's notifications: what a customer is told about
// their order, and the sending of it.
//
// Templates renders one message per event kind (Accepted, CourierAssigned, PickedUp,
// Delivered, Shipped, Refunded, Cancelled) as a subject, a plain-text part and an HTML part,
// in the customer's language where tiffin speaks it (English, French, Hindi; English
// otherwise). The templates live in templates/ and are embedded in the binary; a language is a
// pair of files, templates/text/<tag>.tmpl and templates/html/<tag>.tmpl.
//
// SMTP sends a rendered message through an SMTP server (go-mail). Each message carries the
// Message-ID its caller derives from the notification's own ID, so a message sent again after
// a crash is recognisably the same message. Send's errors wrap ErrPermanent when sending again
// cannot help (the server refused the recipient or the message) and ErrTemporary otherwise.
package email
