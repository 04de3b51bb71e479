# The words of the donor-facing pages in this language (Project Fluent).

## donate

donate-title = Give to defend immigrants
donate-intro = Your gift pays for lawyers who stand beside immigrants facing deportation.
donate-frequency = How often
donate-once = Once
donate-monthly = Monthly
donate-amount = Amount (US dollars)
donate-other-amount = Other amount
donate-fund = Where your gift goes
donate-tribute = Give in honor or in memory of someone (optional)
donate-tribute-none = No tribute
donate-in-honor = In honor of
donate-in-memory = In memory of
donate-tribute-name = Name of the person honored
donate-notify-name = Whom should we tell? (name)
donate-notify-email = Email of the person to tell
donate-tribute-show-amount = Tell them the amount of my gift
donate-about-you = About you
donate-name = Your name
donate-email = Your email
donate-consent = Email me updates and appeals
donate-anonymous = Keep my gift anonymous
donate-submit = Continue to secure payment
donate-secure = You will pay on Stripe's secure page. We never see your card number.
donate-errors-heading = Please correct the following:
donate-err-frequency = Choose once or monthly.
donate-err-amount = Choose an amount or type one, like 25 or 25.50.
donate-err-amount-range = The amount must be at least $1.00 and at most $100,000.00.
donate-err-fund = Choose where your gift goes.
donate-err-tribute-kind = Choose in honor of or in memory of.
donate-err-tribute-name = Give the name of the person your gift honors.
donate-err-notify-name = Give the name of the person to notify on one line, at most 200 characters.
donate-err-notify-email = Give a valid email address for the person to notify, or leave it empty.
donate-err-name = Give your name.
donate-err-email = Give a valid email address, like name@example.org.
donate-unavailable = We could not reach our payment processor, and nothing was charged. Please try again in a moment.
donate-raised = raised
donate-goal = goal
donate-thanks-title = Thank you
donate-thanks-paid = Your gift was received. Your receipt is on its way by email.
donate-thanks-processing = Your payment is still processing. We will email your receipt as soon as it completes.
donate-thanks-failed = Your payment did not go through, and nothing was charged.
donate-thanks-unknown = We are confirming your gift with our payment processor. Your receipt will arrive by email.
donate-cancelled-title = Your gift was not completed
donate-cancelled-body = Nothing was charged. You can try again whenever you are ready.
donate-try-again = Try again
donate-required = required

## manage

manage-title = Your pledges
manage-invalid = This link is not valid. Please use the most recent link we emailed you.
manage-expired = This link has expired. Our next email will bring a new one, or write to us.
manage-none = You have no pledges.
manage-unavailable = This page is not available right now. Please try again in a few minutes.
manage-month = a month
manage-quarter = a quarter
manage-year = a year
manage-since = since
manage-active = active
manage-paused = paused
manage-past-due = payment due
manage-cancelled = cancelled
manage-completed = completed
manage-new-amount = New amount
manage-change-amount = Change the amount
manage-pause = Pause
manage-resume = Resume
manage-confirm-cancel = Yes, cancel this pledge
manage-cancel = Cancel the pledge
manage-update-card = Update my card
manage-done-here = Done. Your pledge is updated. Thank you.
manage-done-at-processor = Thank you. Your change was sent to our card processor and shows here within a few minutes.
manage-bad-amount = Please give the new amount in dollars, for example 42 or 42.50.
manage-needs-confirmation = To cancel, please tick the box that says so.
manage-cannot-change = This pledge cannot change that way now.
manage-no-card = We have no card on file for you.
manage-try-later = We could not reach our card processor. Please try again in a few minutes.

## guard

guard-honeypot-label = Leave this field empty
guard-minimum-hint = The smallest gift this page takes is { $minimum }.
guard-below-minimum = The amount must be at least { $minimum }.
guard-form-expired = For your security, this form expired. Please check your gift and send it again; nothing was charged.
guard-refused-title = We could not accept this form
guard-refused-body = Please open our donation page and send your gift from there. Nothing was charged.
guard-back-to-form = Go to the donation page
guard-busy-title = Please wait a moment
guard-busy-body = To protect donors from card fraud, we accept only a few gifts from one place in a short time. Please try again in { $minutes ->
    [one] about a minute
   *[other] about { $minutes } minutes
}. Nothing was charged.

## the layout and words every page shares

language-name = English
layout-language = Language
page-error = Something went wrong. Please try again later.
# An amount of money; $amount is already written the language's way.
money = { $currency ->
    [USD] ${ $amount }
   *[other] { $amount } { $currency }
}
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
date-long = { $month } { $day }, { $year }
amount-ambiguous = That amount can be read two ways. Write a thousand dollars as { $thousand } and cents after a point, as in { $example }.

## donate, more

donate-page-unavailable = The donation page is unavailable; please try again shortly.
donate-circle-note = { $monthly } a month joins the { $circle }, for gifts of { $yearly } or more a year.
donate-campaign-ended = { $campaign } has ended: { $raised } raised toward a goal of { $goal }. Thank you to everyone who gave.

## circle

circle-untitled = The Circle
circle-unavailable = This page is not available right now.
circle-intro = Thank you to the friends who sustain our work with a pledge of { $yearly } or more a year.
circle-empty = We will soon thank our first members here.
circle-join-heading = Join them
circle-join = Give { $monthly } a month to join the { $circle }

## manage, more

manage-since-date = since { $date }

## unsubscribe

unsubscribe-title = Appeal email
unsubscribe-confirm-title = Stop appeal emails?
unsubscribe-confirm-body = You will no longer receive fundraising appeals from us. Your gift receipts and year-end statements will still be sent.
unsubscribe-button = Unsubscribe
unsubscribe-done-title = You are unsubscribed
unsubscribe-done-body = We will send no more appeals. Receipts for your gifts will still reach you.
unsubscribe-gone = We have no record of this address any more, so no appeals will reach it.
unsubscribe-invalid = This unsubscribe link is not valid. Reply to any of our emails and we will stop them.
