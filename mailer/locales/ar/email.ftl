# كلمات الرسائل بالعربية. كل معرّف هنا موجود أيضًا في اللغات الأخرى.
# The wording addresses every donor alike: greetings, thanks and requests avoid forms
# that are masculine (or feminine) by default.

## إطار كل رسالة

greeting-named = مرحبًا { $name }،
greeting-unnamed = تحية طيبة،
footer-why = تصلك هذه الرسالة لأنك من داعمي { $org }.
unsubscribe-line = لإيقاف رسائل المناشدة (سيستمر وصول إيصالاتك):

# رابط في النص العادي: اسمه ثم عنوانه.
link-line = { $label }: { $url }

## المبالغ: الرقم ثم رمز العملة

amount = { $sign }{ $number }{"\u00A0"}{ $symbol }{ $code ->
    [none] {""}
   *[other] {" "}{ $code }
}

pledge-amount = { $frequency ->
    [monthly] { $amount } شهريًا
    [quarterly] { $amount } كل ثلاثة أشهر
   *[yearly] { $amount } سنويًا
}

tier-circle-of-friends = دائرة الأصدقاء

## المناشدة

appeal-give = للتبرع اليوم
appeal-club-invitation = عضوية { $circle } متاحة عبر نادي العطاء الشهري بمبلغ { $monthly } شهريًا.

## الإيصال والكشف السنوي

receipt-gift-subject = إيصالك { $number } من { $org }
receipt-statement-subject = كشف تبرعاتك لعام { $year } ({ $number }) من { $org }
receipt-gift-intro = شكرًا لتبرعك. إيصالك الضريبي أدناه وفي الملف المرفق (PDF).
receipt-statement-intro = شكرًا لكرمك هذا العام. كشف تبرعاتك السنوي أدناه وفي الملف المرفق (PDF).
receipt-file-prefix = receipt
receipt-download-link = لتنزيل ملف PDF (الرابط صالح لمدة 30 يومًا)

## إيصال ملغى

receipt-voided-subject = تم إلغاء الإيصال { $number }
receipt-voided-body = تم إلغاء الإيصال { $number } بمبلغ { $amount }. السبب: { $reason }.
receipt-voided-replaced = يحل محله الإيصال { $replacement } الذي نرسله إليك بشكل منفصل.
receipt-void-reason-refunded-in-full = تم رد مبلغ تبرعك بالكامل
receipt-void-reason-refunded-in-part = تم رد { $amount } من تبرعك إليك
receipt-void-reason-refund-failed = تعذّر إتمام رد مبلغ من تبرعك، لذا يُحتسب التبرع من جديد
receipt-void-reason-gift-corrected = تم تصحيح تفاصيل تبرعك
receipt-void-reason-payment-reversed = ألغى مصرفك عملية الدفع
receipt-void-reason-gift-added = وصلنا تبرع منك من تلك السنة بعد إصدار هذا الكشف

## الترحيب في نادي التبرع الشهري

club-welcome-subject = أهلًا بك في نادي التبرع الشهري
club-welcome-thanks = شكرًا لتعهّدك بمبلغ { $pledge } لصالح { $org }.
club-welcome-steady = دعمك المنتظم يتيح لنا التخطيط مسبقًا والوقوف إلى جانب مزيد من العائلات.
club-welcome-link = عرض تعهّدك أو تغييره

## الترحيب في مستوى من مستويات العطاء

tier-welcome-subject = أهلًا بك في { $tier }
tier-welcome-body = تعهّداتك تمنحك الآن عضوية { $tier }. شكرًا لكرمك.
tier-welcome-link = عرض تعهّداتك

## دفعة شهرية لم تكتمل

payment-failed-subject = تعذّرت معالجة تبرعك الشهري
payment-failed-body = لم تكتمل دفعة تعهّدك بمبلغ { $pledge }.
payment-failed-retry = يمكنك تحديث بطاقتك من الرابط أدناه، وسنحاول مرة أخرى.
payment-failed-link = تحديث بطاقتك

## تعهّد أُلغي

pledge-cancelled-subject = أُلغي تعهّدك بالتبرع
pledge-cancelled-body = أُلغي تعهّدك بمبلغ { $pledge } لصالح { $org }. شكرًا على كل ما قدّمته.
pledge-cancelled-return = إن رغبت في العودة، يمكنك البدء من جديد في أي وقت.
pledge-cancelled-link = التبرع من جديد

## تبرع تكريمًا لشخص أو تخليدًا لذكراه

tribute-subject = { $kind ->
    [memory] تبرع تخليدًا لذكرى { $honoree }
   *[honor] تبرع تكريمًا لـ { $honoree }
}
tribute-gift = { $kind ->
    [memory] وصل إلى { $org } تبرع من { $who } تخليدًا لذكرى { $honoree }.
   *[honor] وصل إلى { $org } تبرع من { $who } تكريمًا لـ { $honoree }.
}
tribute-anonymous = شخص من أصدقائنا
tribute-amount = قيمة التبرع { $amount }.
tribute-closing = بكل امتنان، أردنا أن نشارككم هذه اللفتة.
