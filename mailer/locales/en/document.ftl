# The words of a receipt or year-end statement (text, HTML and PDF). Values arrive
# already isolated where a right-to-left language needs it.

document-receipt = Receipt { $number }
document-statement = Year-end giving statement { $year } — { $number }
document-issued = Issued { $date }
document-replaces = This receipt replaces voided receipt { $number }.
document-thanks-one = Thank you for your gift of { $amount } on { $date } by { $method } to the { $fund }.
document-thanks-year = Thank you for your gifts in { $year }. This statement lists every gift, net of refunds.
document-column-date = Date
document-column-fund = Fund
document-column-method = Method
document-column-amount = Amount
document-column-benefits = Benefits
document-column-deductible = Deductible
document-total = Total
document-no-benefits = No goods or services were provided in exchange for this contribution.
document-benefits = In exchange for your contribution on { $date } you received { $description }, with a good-faith estimated value of { $value }.
document-deductible = The amount deductible for federal income tax purposes is { $amount }.
document-quid-pro-quo = The amount of your contribution that is deductible for federal income tax purposes is limited to the excess of the money contributed over the value of goods or services provided by { $org }.
document-tribute = { $kind ->
    [memory] In memory of { $name }.
   *[honor] In honor of { $name }.
}
document-exempt = { $org } is a tax-exempt organization under section { $section } of the Internal Revenue Code. EIN { $ein }.
document-sample = SAMPLE — NOT A TAX RECEIPT. The organization's legal name, EIN and address are not configured yet: this document shows placeholders and cannot be used for taxes.
document-signature = Development Director, { $org }
document-method = { $method ->
    [card] card
    [bank] bank transfer
    [check] check
    [cash] cash
    [stock] stock
    [daf] donor-advised fund
   *[wire] wire transfer
}
document-date = { $month } { $day }, { $year }
document-month-1 = January
document-month-2 = February
document-month-3 = March
document-month-4 = April
document-month-5 = May
document-month-6 = June
document-month-7 = July
document-month-8 = August
document-month-9 = September
document-month-10 = October
document-month-11 = November
document-month-12 = December
