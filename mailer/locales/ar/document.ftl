# كلمات الإيصال أو الكشف السنوي (النص وHTML وPDF).

document-receipt = إيصال { $number }
document-statement = كشف التبرعات السنوي { $year } — { $number }
document-issued = صدر في { $date }
document-replaces = يحل هذا الإيصال محل الإيصال الملغى { $number }.
document-thanks-one = شكراً لتبرعكم بمبلغ { $amount } بتاريخ { $date } ({ $method }) لصندوق { $fund }.
document-thanks-year = شكراً لتبرعاتكم في عام { $year }. يسرد هذا الكشف كل تبرع بعد خصم المبالغ المستردة.
document-column-date = التاريخ
document-column-fund = الصندوق
document-column-method = طريقة الدفع
document-column-amount = المبلغ
document-column-benefits = المزايا
document-column-deductible = القابل للخصم
document-total = المجموع
document-no-benefits = لم تُقدَّم أي سلع أو خدمات مقابل هذا التبرع.
document-benefits = مقابل تبرعكم بتاريخ { $date } حصلتم على: { $description }، بقيمة تقديرية بحسن نية قدرها { $value }.
document-deductible = المبلغ القابل للخصم لأغراض ضريبة الدخل الفيدرالية هو { $amount }.
document-quid-pro-quo = يقتصر المبلغ القابل للخصم من تبرعكم على ما يزيد عن قيمة السلع أو الخدمات التي قدمتها { $org }.
document-tribute = { $kind ->
    [memory] إحياءً لذكرى { $name }.
   *[honor] تكريماً لـ { $name }.
}
document-exempt = { $org } منظمة معفاة من الضرائب بموجب القسم { $section } من قانون الإيرادات الداخلية. الرقم الضريبي { $ein }.
document-sample = نموذج — ليس إيصالاً ضريبياً. لم يُضبط بعد الاسم القانوني للمنظمة ورقمها الضريبي وعنوانها: يعرض هذا المستند بيانات تجريبية ولا يصلح للأغراض الضريبية.
document-signature = إدارة التنمية، { $org }
document-method = { $method ->
    [card] بطاقة
    [bank] تحويل مصرفي
    [check] شيك
    [cash] نقداً
    [stock] أسهم
    [daf] صندوق يوجهه المتبرع
   *[wire] حوالة
}
document-date = { $day } { $month } { $year }
document-month-1 = يناير
document-month-2 = فبراير
document-month-3 = مارس
document-month-4 = أبريل
document-month-5 = مايو
document-month-6 = يونيو
document-month-7 = يوليو
document-month-8 = أغسطس
document-month-9 = سبتمبر
document-month-10 = أكتوبر
document-month-11 = نوفمبر
document-month-12 = ديسمبر
