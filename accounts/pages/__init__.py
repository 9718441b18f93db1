"""The server-rendered account pages under /account/: a form is validated, one flow does the work; and the page kit otp's pages use."""
