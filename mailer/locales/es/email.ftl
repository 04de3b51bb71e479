# Las palabras de los correos en español. Cada id existe también en los demás idiomas.

## El marco de todos los correos

greeting-named = Estimado/a { $name }:
greeting-unnamed = Estimado/a donante:
footer-why = Recibe este mensaje porque apoya a { $org }.
unsubscribe-line = Para no recibir más llamamientos (seguirá recibiendo sus recibos):

# Un enlace en la parte de texto: su nombre y la dirección.
link-line = { $label }: { $url }

## Montos

amount = { $sign }{ $symbol }{ $number }{ $code ->
    [none] {""}
   *[other] {" "}{ $code }
}

pledge-amount = { $frequency ->
    [monthly] { $amount } al mes
    [quarterly] { $amount } cada trimestre
   *[yearly] { $amount } al año
}

tier-circle-of-friends = Círculo de Amigos

## Llamamiento

appeal-give = Done hoy
appeal-club-invitation = Únase a nuestro Club de Donantes Mensuales: con { $monthly } al mes entra en nuestro { $circle }.

## Recibo y resumen anual

receipt-gift-subject = Su recibo { $number } de { $org }
receipt-statement-subject = Su resumen de donaciones de { $year } ({ $number }) de { $org }
receipt-gift-intro = Gracias por su donación. Su recibo para fines fiscales está a continuación y adjunto en PDF.
receipt-statement-intro = Gracias por su generosidad este año. Su resumen anual de donaciones para fines fiscales está a continuación y adjunto en PDF.
receipt-file-prefix = recibo
receipt-download-link = Descargue el PDF (enlace válido por 30 días)

## Recibo anulado

receipt-voided-subject = El recibo { $number } ha sido anulado
receipt-voided-body = El recibo { $number } por { $amount } ha sido anulado. Motivo: { $reason }.
receipt-voided-replaced = Lo reemplaza el recibo { $replacement }, que le enviamos por separado.
receipt-void-reason-refunded-in-full = su donación fue reembolsada en su totalidad
receipt-void-reason-refunded-in-part = se le reembolsaron { $amount } de su donación
receipt-void-reason-refund-failed = un reembolso de su donación no se completó, así que la donación vuelve a contar
receipt-void-reason-gift-corrected = se corrigieron los datos de su donación
receipt-void-reason-payment-reversed = su banco revirtió el pago
receipt-void-reason-gift-added = recibimos una donación suya de ese año después de emitir este resumen

## Bienvenida al Club de Donantes Mensuales

club-welcome-subject = Bienvenido/a al Club de Donantes Mensuales
club-welcome-thanks = Gracias por su compromiso de { $pledge } con { $org }.
club-welcome-steady = Su apoyo constante nos permite planificar y defender a más familias.
club-welcome-link = Consultar o cambiar su compromiso

## Bienvenida a un nivel

tier-welcome-subject = Bienvenido/a a { $tier }
tier-welcome-body = Con sus compromisos de donación ahora forma parte de { $tier }. Gracias por su generosidad.
tier-welcome-link = Consultar sus compromisos

## Un pago mensual que falló

payment-failed-subject = No pudimos procesar su donación mensual
payment-failed-body = El cobro de su compromiso de { $pledge } no se pudo completar.
payment-failed-retry = Puede actualizar su tarjeta con el enlace de abajo; volveremos a intentarlo.
payment-failed-link = Actualizar su tarjeta

## Un compromiso cancelado

pledge-cancelled-subject = Su compromiso de donación fue cancelado
pledge-cancelled-body = Su compromiso de { $pledge } con { $org } fue cancelado. Gracias por todo lo que ha dado.
pledge-cancelled-return = Si desea volver, puede reanudar su apoyo en cualquier momento.
pledge-cancelled-link = Volver a donar

## Una donación en honor o en memoria de alguien

tribute-subject = { $kind ->
    [memory] Una donación en memoria de { $honoree }
   *[honor] Una donación en honor de { $honoree }
}
tribute-gift = { $kind ->
    [memory] { $who } ha hecho una donación a { $org } en memoria de { $honoree }.
   *[honor] { $who } ha hecho una donación a { $org } en honor de { $honoree }.
}
tribute-anonymous = Una persona amiga
tribute-amount = El monto de la donación es { $amount }.
tribute-closing = Con gratitud, le compartimos este gesto de cariño.
