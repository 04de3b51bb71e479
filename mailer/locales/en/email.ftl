# Every word of the emails donors read, in English. Each id here must exist in every
# other language's file too (the mailer's unit tests check it).

## The frame every email shares

greeting-named = Dear { $name },
greeting-unnamed = Dear friend,
footer-why = You receive this message because you support { $org }.
unsubscribe-line = To stop receiving appeals (you will still get your receipts):

# A link in a plain-text part: its label, then the address.
link-line = { $label }: { $url }

## Amounts: the number is already written the language's way ($number); these place
## the currency's symbol and, for dollars other than US dollars, its code.

amount = { $sign }{ $symbol }{ $number }{ $code ->
    [none] {""}
   *[other] {" "}{ $code }
}

# A pledge in words: "$42.00 a month".
pledge-amount = { $frequency ->
    [monthly] { $amount } a month
    [quarterly] { $amount } a quarter
   *[yearly] { $amount } a year
}

# The tier the organization started with; a name staff give a tier is shown as written.
tier-circle-of-friends = Circle of Friends

## Appeal

appeal-give = Donate today
appeal-club-invitation = Join our Monthly Giving Club: { $monthly } a month brings you into our { $circle }.

## Receipt and year-end statement

receipt-gift-subject = Your receipt { $number } from { $org }
receipt-statement-subject = Your { $year } giving statement ({ $number }) from { $org }
receipt-gift-intro = Thank you for your gift. Your receipt for tax purposes is below and attached as a PDF.
receipt-statement-intro = Thank you for your generosity this year. Your year-end giving statement for tax purposes is below and attached as a PDF.
receipt-file-prefix = receipt
receipt-download-link = Download the PDF (link valid for 30 days)

## A receipt that no longer stands

receipt-voided-subject = Receipt { $number } has been voided
receipt-voided-body = Receipt { $number } for { $amount } has been voided. Reason: { $reason }.
receipt-voided-replaced = It is replaced by receipt { $replacement }, which we are sending separately.
receipt-void-reason-refunded-in-full = your gift was refunded in full
receipt-void-reason-refunded-in-part = { $amount } of your gift was refunded to you
receipt-void-reason-refund-failed = a refund of your gift did not go through, so the gift counts again
receipt-void-reason-gift-corrected = the details of your gift were corrected
receipt-void-reason-payment-reversed = your bank reversed the payment
receipt-void-reason-gift-added = a gift of yours from that year reached us after this statement was issued

## Welcome to the Monthly Giving Club

club-welcome-subject = Welcome to the Monthly Giving Club
club-welcome-thanks = Thank you for pledging { $pledge } to { $org }.
club-welcome-steady = Steady support lets us plan ahead and stand with more families.
club-welcome-link = See or change your pledge

## Welcome to a tier

tier-welcome-subject = Welcome to the { $tier }
tier-welcome-body = Your pledges now make you a member of the { $tier }. Thank you for your generosity.
tier-welcome-link = See your pledges

## A pledge installment that failed

payment-failed-subject = We could not process your monthly gift
payment-failed-body = The payment for your pledge of { $pledge } did not go through.
payment-failed-retry = You can update your card with the link below; we will try again.
payment-failed-link = Update your card

## A cancelled pledge

pledge-cancelled-subject = Your pledge has been cancelled
pledge-cancelled-body = Your pledge of { $pledge } to { $org } has been cancelled. Thank you for all you have given.
pledge-cancelled-return = If you would like to come back, you can start again at any time.
pledge-cancelled-link = Give again

## A gift in someone's honor or memory, told to that person

tribute-subject = { $kind ->
    [memory] A gift in memory of { $honoree }
   *[honor] A gift in honor of { $honoree }
}
tribute-gift = { $kind ->
    [memory] { $who } has made a gift to { $org } in memory of { $honoree }.
   *[honor] { $who } has made a gift to { $org } in honor of { $honoree }.
}
tribute-anonymous = A friend
tribute-amount = The gift is { $amount }.
tribute-closing = With gratitude, we wanted you to know of this kindness.
